"""Publishing into an artifact bucket (against moto with the local AWS extension, in-process)."""
from __future__ import annotations

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils import s3_sync
from ansible_collections.multiregion.serverless.plugins.module_utils.sls_template import sha256_file

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
    return s3_sync.sync_objects(client, BUCKET, OWNER, objects, region=REGION, retrying=False, **kwargs)


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
