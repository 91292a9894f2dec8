"""Publishing into an artifact bucket, and the publish service (against moto with the local AWS extension, in-process)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils import s3_sync
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis, S3Api
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.common import sha256_file

OWNER = "123456789012"
BUCKET = "mrs-artifacts-dev-eu-west-1"
REGION = "eu-west-1"


@pytest.fixture
def bucket(aws_mock):
    client = aws_mock.client("s3", REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


def files(tmp_path, **contents):
    objects = []
    for name, text in contents.items():
        path = tmp_path / name
        path.write_text(text)
        objects.append({"key": f"serverless/svc/dev/{name}", "path": str(path)})
    return s3_sync.dedupe_objects(objects)


def sync(client, objects, **kwargs):
    return s3_sync.sync_objects(S3Api(client, REGION), BUCKET, OWNER, objects, **kwargs)


def test_uploads_encrypted_with_sha256_then_skips(bucket, tmp_path):
    objects = files(tmp_path, **{"a.zip": "zip-a", "t.json": "{}"})
    first = sync(bucket, objects)
    assert first["uploaded"] == ["serverless/svc/dev/a.zip", "serverless/svc/dev/t.json"] and not first["failures"]
    head = bucket.head_object(Bucket=BUCKET, Key="serverless/svc/dev/a.zip")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["sha256"] == sha256_file(objects[0]["path"])
    assert bucket.get_object(Bucket=BUCKET, Key="serverless/svc/dev/t.json")["Body"].read() == b"{}"
    second = sync(bucket, objects)
    assert second["uploaded"] == [] and len(second["skipped"]) == 2


def test_check_mode_writes_nothing(bucket, tmp_path):
    objects = files(tmp_path, **{"a.zip": "zip-a"})
    assert sync(bucket, objects, check_mode=True)["uploaded"] == ["serverless/svc/dev/a.zip"]
    assert bucket.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_an_existing_key_with_other_content_is_never_overwritten(bucket, tmp_path):
    objects = files(tmp_path, **{"a.zip": "zip-a"})
    bucket.put_object(Bucket=BUCKET, Key="serverless/svc/dev/a.zip", Body=b"someone else's")
    outcome = sync(bucket, objects)
    assert outcome["uploaded"] == [] and "never overwritten" in outcome["failures"][0]["msg"]
    assert bucket.get_object(Bucket=BUCKET, Key="serverless/svc/dev/a.zip")["Body"].read() == b"someone else's"


def test_an_object_uploaded_by_other_tools_with_the_same_bytes_is_skipped(bucket, tmp_path):
    objects = files(tmp_path, **{"a.zip": "zip-a"})
    bucket.put_object(Bucket=BUCKET, Key="serverless/svc/dev/a.zip", Body=b"zip-a")  # no sha256 metadata: ETag compared
    assert sync(bucket, objects)["skipped"] == ["serverless/svc/dev/a.zip"]


def test_a_bucket_of_another_account_is_never_written(aws_mock, tmp_path):
    other = aws_mock.session_for_account("210987654321", REGION).client("s3")
    other.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    outcome = sync(aws_mock.client("s3", REGION), files(tmp_path, **{"a.zip": "zip-a"}))
    assert outcome["uploaded"] == [] and "HeadObject failed in eu-west-1" in outcome["failures"][0]["msg"]
    assert other.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_same_key_with_two_contents_is_refused(tmp_path):
    (tmp_path / "a").write_text("1")
    (tmp_path / "b").write_text("2")
    with pytest.raises(s3_sync.SyncError, match="two different files"):
        s3_sync.dedupe_objects([{"key": "k", "path": str(tmp_path / "a")}, {"key": "k", "path": str(tmp_path / "b")}])


def test_objects_from_packages_and_urls():
    packages = [{"template_key": "t", "template_path": "/t", "template_sha256": "1",
                 "artifacts": [{"s3_key": "z", "path": "/z", "sha256": "2"}]}, {"name": "pending", "status": "would_package"}]
    assert s3_sync.objects_from_packages(packages) == [{"key": "t", "path": "/t", "sha256": "1"}, {"key": "z", "path": "/z", "sha256": "2"}]
    assert s3_sync.regional_url("b", "eu-west-1", "k/x.json") == "https://b.s3.eu-west-1.amazonaws.com/k/x.json"


# ---------------------------------------------------------------- the service: publish


def package(tmp_path, name, template):
    """An sls_package result of one service: its template (and one ZIP) on disk."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(template, sort_keys=True))
    zip_path = tmp_path / f"{name}.zip"
    zip_path.write_bytes(b"zip-" + name.encode())
    digest = sha256_file(str(path))
    return {"name": name, "kind": "service", "template_path": str(path), "template_sha256": digest,
            "template_key": f"serverless/{name}/dev/templates/{digest}.json", "parameters": ["TenantId"],
            "artifacts": [{"s3_key": f"serverless/{name}/dev/{digest[:16]}/{name}.zip", "path": str(zip_path), "sha256": sha256_file(str(zip_path))}]}


def publish_request(tmp_path, **values):
    definition = tmp_path / "core.yml"
    definition.write_text("parameters: {TenantId: {Type: String}}\nnested_stacks: [{service: orders}]\n")
    values.setdefault("packages", [package(tmp_path, "orders", {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, "Parameters": {"TenantId": {}}})])
    values.setdefault("products", [str(definition)])
    values.setdefault("products_output_dir", str(tmp_path / "products"))
    values.setdefault("stage", "dev")
    return s3_sync.PublishRequest(bucket=BUCKET, expected_bucket_owner=OWNER, **values)


def test_publish_renders_the_products_and_publishes_them_after_what_they_point_at(bucket, aws_mock, tmp_path):
    apis = AwsApis(lambda service: aws_mock.client(service, REGION), REGION)
    checked = s3_sync.publish(apis, publish_request(tmp_path, check_mode=True))
    assert checked["changed"] and len(checked["uploaded"]) == 3 and bucket.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    # The product template is rendered to the build folder in check mode too, and named as the local copy of its URL,
    # beside the service template's: the catalog's check reads them there before they are in S3.
    core = checked["products"]["core"]
    assert Path(core["path"]).is_file() and checked["local_copies"][core["url"]] == core["path"]
    assert len(checked["local_copies"]) == 2 and all(Path(path).is_file() for path in checked["local_copies"].values())

    result = s3_sync.publish(apis, publish_request(tmp_path))
    product = result["products"]["core"]
    assert product["key"].startswith("products/core/dev/") and product["url"] == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{product['key']}"
    assert product["fingerprint"].startswith("sha256:") and product["nested_template_urls"] == {"OrdersServiceStack": result["template_urls"]["service/orders"]}
    assert result["uploaded"][-1] == product["key"]  # the product template goes last
    assert json.loads(bucket.get_object(Bucket=BUCKET, Key=product["key"])["Body"].read())["Resources"]["OrdersServiceStack"]
    assert result["summary"] == f"{BUCKET}: 3 uploaded, 0 already there"
    again = s3_sync.publish(apis, publish_request(tmp_path))
    assert not again["changed"] and again["summary"] == f"{BUCKET}: 0 uploaded, 3 already there"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"expected_bucket_owner": "me"}, "expected_bucket_owner must be a 12-digit account id, got 'me'"),
        ({"stage": None}, "products needs stage and products_output_dir"),
        ({"concurrency": 0}, "concurrency must be 1 or more, got 0"),
    ],
)
def test_publish_refuses_bad_options_before_any_call(tmp_path, values, message):
    made = []
    apis = AwsApis(made.append, REGION)
    request = publish_request(tmp_path, **{key: value for key, value in values.items() if key != "expected_bucket_owner"})
    if "expected_bucket_owner" in values:
        request = s3_sync.PublishRequest(**dict(vars(request), expected_bucket_owner=values["expected_bucket_owner"]))
    with pytest.raises(ServiceFailure) as refused:
        s3_sync.publish(apis, request)
    assert refused.value.msg == message and made == []


def test_a_foreign_bucket_fails_the_publication_naming_the_owner(aws_mock, tmp_path):
    other = aws_mock.session_for_account("210987654321", REGION).client("s3")
    other.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    apis = AwsApis(lambda service: aws_mock.client(service, REGION), REGION)
    with pytest.raises(ServiceFailure) as failed:
        s3_sync.publish(apis, publish_request(tmp_path, products=[]))
    assert failed.value.msg.startswith(f"publishing to {BUCKET} failed for 2 object(s): HeadObject failed in eu-west-1 for s3://{BUCKET}/")
    assert f"(is bucket {BUCKET} owned by account {OWNER}? nothing was uploaded)" in failed.value.msg
    assert failed.value.result["changed"] is False and len(failed.value.result["failures"]) == 2
