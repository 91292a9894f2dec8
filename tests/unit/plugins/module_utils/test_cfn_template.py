"""Templates as data: JSON/YAML parsing with short tags, the normal form, fingerprints, S3 URL forms."""
from __future__ import annotations

import json
import textwrap
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import (
    TemplateError,
    bounded_text,
    canonical_json,
    fingerprint_tree,
    local_fingerprint,
    nested_stacks,
    parse_s3_url,
    parse_template,
    local_copy,
    regional_s3_url,
    template_changes,
    template_fingerprint,
)

YAML_TEMPLATE = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: 2010-09-09
    Parameters:
      TenantId: {Type: String}
    Conditions:
      IsPremium: !Equals [!Ref TenantTier, premium]
    Resources:
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub "${TenantId}-orders"
          Tags:
            - Key: arn
              Value: !GetAtt Topic.TopicArn
            - Key: nested
              Value: !GetAtt Db.Endpoint.Address
            - Key: joined
              Value: !Join ["-", [!Ref "AWS::Region", !Select [0, !GetAZs ""]]]
      Topic:
        Type: AWS::SNS::Topic
        Condition: IsPremium
    Outputs:
      Url: {Value: !Base64 {"Fn::Sub": "x"}}
    """
)

JSON_TWIN = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"TenantId": {"Type": "String"}},
    "Conditions": {"IsPremium": {"Fn::Equals": [{"Ref": "TenantTier"}, "premium"]}},
    "Resources": {
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": {"Fn::Sub": "${TenantId}-orders"},
                "Tags": [
                    {"Key": "arn", "Value": {"Fn::GetAtt": ["Topic", "TopicArn"]}},
                    {"Key": "nested", "Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
                    {"Key": "joined", "Value": {"Fn::Join": ["-", [{"Ref": "AWS::Region"}, {"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]}},
                ],
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Condition": "IsPremium"},
    },
    "Outputs": {"Url": {"Value": {"Fn::Base64": {"Fn::Sub": "x"}}}},
}


def stack(url):
    return {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url, "Parameters": {"A": "b"}}}


def test_yaml_short_tags_become_the_long_json_forms():
    assert parse_template(YAML_TEMPLATE, "t.yml") == JSON_TWIN


def test_yaml_and_json_twins_have_one_fingerprint():
    from_yaml = parse_template(YAML_TEMPLATE, "t.yml")
    from_json = parse_template(json.dumps(JSON_TWIN, indent=4), "t.json")
    assert template_fingerprint(from_yaml) == template_fingerprint(from_json)


def test_key_order_and_whitespace_do_not_count_but_values_do():
    reordered = json.loads(json.dumps(JSON_TWIN), object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    assert list(reordered) != list(JSON_TWIN)
    assert template_fingerprint(reordered) == template_fingerprint(JSON_TWIN)
    assert canonical_json(reordered) == canonical_json(JSON_TWIN)
    changed = json.loads(json.dumps(JSON_TWIN))
    changed["Resources"]["Queue"]["Properties"]["QueueName"] = {"Fn::Sub": "${TenantId}-orders-v2"}
    assert template_fingerprint(changed) != template_fingerprint(JSON_TWIN)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "is empty"),
        ("{not json", "not valid JSON"),
        ('{"Resources": {"A": {"Type": "X"}}, "Resources": {}}', "duplicate key 'Resources'"),
        ("key: [unclosed", "neither valid JSON nor valid YAML"),
        ("- a\n- b\n", "the document is a list"),
        ("AWSTemplateFormatVersion: 2010-09-09\n", "no Resources mapping"),
        ('{"Resources": {}}', "no Resources mapping"),
        ('{"Resources": {"Queue": {"Properties": {}}}}', "resource 'Queue' has no Type"),
    ],
)
def test_bad_templates_fail_with_one_line_naming_the_source(text, reason):
    with pytest.raises(TemplateError) as caught:
        parse_template(text, "products/core.yml")
    message = str(caught.value)
    assert reason in message and message.startswith("products/core.yml") and "\n" not in message


def test_yaml_timestamps_stay_strings():
    template = parse_template("AWSTemplateFormatVersion: 2010-09-09\nResources: {A: {Type: X}}\n", "t")
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"


def test_nested_stacks_lists_literal_urls_only():
    template = {
        "Resources": {
            "B": stack("https://b.s3.us-east-1.amazonaws.com/two.json"),
            "A": stack("https://b.s3.us-east-1.amazonaws.com/one.json"),
            "Built": stack({"Fn::Sub": "https://${Bucket}.s3.amazonaws.com/x.json"}),
            "Queue": {"Type": "AWS::SQS::Queue"},
        }
    }
    assert nested_stacks(template) == [
        ("A", "https://b.s3.us-east-1.amazonaws.com/one.json"),
        ("B", "https://b.s3.us-east-1.amazonaws.com/two.json"),
    ]


def product(urls):
    return {"Resources": {f"S{index}": stack(url) for index, url in enumerate(urls)}}


def leaf(name):
    return {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": name}}}}


def test_a_change_in_any_nested_template_changes_the_fingerprint():
    store = {"u1": leaf("a.handler"), "u2": leaf("b.handler")}
    before, nested = fingerprint_tree(product(["u1", "u2"]), store.__getitem__, "p")
    assert [item.url for item in nested] == ["u1", "u2"]
    store["u2"] = leaf("b.handler2")
    after, _nested = fingerprint_tree(product(["u1", "u2"]), store.__getitem__, "p")
    assert after != before


def test_same_nested_content_under_another_url_keeps_the_fingerprint():
    # The package phase keys templates by their bytes; a re-published identical document must not make a version.
    first, first_nested = fingerprint_tree(product(["old-key"]), {"old-key": leaf("a")}.__getitem__, "p")
    second, second_nested = fingerprint_tree(product(["new-key"]), {"new-key": leaf("a")}.__getitem__, "p")
    assert first == second


def test_nested_templates_are_walked_to_the_bottom_and_fetched_once():
    fetched = []
    store = {"mid": product(["leaf"]), "leaf": leaf("x")}

    def fetch(url):
        fetched.append(url)
        return store[url]

    top = product(["mid", "mid"])
    fingerprint, nested = fingerprint_tree(top, fetch, "p")
    assert fetched == ["mid", "leaf"]
    assert [(item.url, item.depth) for item in nested] == [("leaf", 2), ("mid", 1), ("mid", 1)]
    store["leaf"] = leaf("y")
    assert fingerprint_tree(top, store.__getitem__, "p")[0] != fingerprint


def test_local_fingerprint_equals_the_one_read_from_the_published_copies(tmp_path):
    store = {"https://b.s3.us-east-1.amazonaws.com/a.json": leaf("a"), "https://b.s3.us-east-1.amazonaws.com/b.json": leaf("b")}
    files = {}
    for index, (url, document) in enumerate(store.items()):
        files[url] = str(tmp_path / f"{index}.json")
        (tmp_path / f"{index}.json").write_text(json.dumps(document, indent=index))
    top = product(list(store))
    assert local_fingerprint(top, files, "p") == fingerprint_tree(top, store.__getitem__, "p")
    # A nested template the publisher did not publish: it cannot vouch for the tree.
    assert local_fingerprint(product([*store, "https://b.s3.us-east-1.amazonaws.com/other.json"]), files, "p") is None


def test_a_cycle_of_template_urls_fails_cleanly():
    store = {"a": product(["b"]), "b": product(["a"])}
    with pytest.raises(TemplateError, match="deeper than"):
        fingerprint_tree(product(["a"]), store.__getitem__, "products/core")


@pytest.mark.parametrize(
    "url, bucket, key, region",
    [
        ("https://mrs-artifacts-dev-us-east-1.s3.us-east-1.amazonaws.com/products/core/dev/ab.json",
         "mrs-artifacts-dev-us-east-1", "products/core/dev/ab.json", "us-east-1"),
        ("https://my.dotted.bucket.s3.eu-west-1.amazonaws.com/k.json", "my.dotted.bucket", "k.json", "eu-west-1"),
        ("https://bucket-1.s3-ap-southeast-2.amazonaws.com/a/b.yml", "bucket-1", "a/b.yml", "ap-southeast-2"),
        ("https://bucket-1.s3.amazonaws.com/a%20b.json", "bucket-1", "a b.json", None),
        ("https://bucket-1.s3.dualstack.us-west-2.amazonaws.com/k", "bucket-1", "k", "us-west-2"),
        ("https://s3.eu-central-1.amazonaws.com/bucket-1/deep/key.json", "bucket-1", "deep/key.json", "eu-central-1"),
        ("https://s3-external-1.amazonaws.com/bucket-1/key", "bucket-1", "key", "us-east-1"),
        ("https://s3.amazonaws.com/bucket-1/key", "bucket-1", "key", None),
        ("https://bucket-1.s3.cn-north-1.amazonaws.com.cn/key", "bucket-1", "key", "cn-north-1"),
        ("s3://bucket-1/some/key.json", "bucket-1", "some/key.json", None),
        ("https://s3data.s3.us-east-1.amazonaws.com/k", "s3data", "k", "us-east-1"),
    ],
)
def test_s3_url_forms(url, bucket, key, region):
    location = parse_s3_url(url)
    assert (location.bucket, location.key, location.region) == (bucket, key, region)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/template.json",
        "ftp://bucket/key",
        "https://bucket-1.s3.us-east-1.amazonaws.com/",
        "https://s3.us-east-1.amazonaws.com/bucket-only",
        "https://BAD_BUCKET.s3.amazonaws.com/key",
        "/local/path.json",
    ],
)
def test_urls_that_are_not_s3_objects_are_refused(url):
    with pytest.raises(TemplateError):
        parse_s3_url(url)


def test_regional_url_parses_back():
    url = regional_s3_url("mrs-artifacts-dev-eu-west-1", "products/core/dev/x.json", "eu-west-1")
    assert parse_s3_url(url) == ("mrs-artifacts-dev-eu-west-1", "products/core/dev/x.json", "eu-west-1")


def test_bounded_text_keeps_short_text_and_marks_the_cut():
    assert bounded_text("abc", 10) == "abc"
    cut = bounded_text("x" * 1000, 200)
    assert len(cut) <= 200 and "diff truncated" in cut and cut.startswith("x")


# ---------------------------------------------------------------------------------------- properties

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=8))
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=5), st.randoms(use_true_random=False), st.sampled_from([None, 1, 4]))
def test_fingerprint_ignores_key_order_and_layout(properties, rnd, indent):
    template = {"Resources": {"R": {"Type": "AWS::X::Y", "Properties": properties}}}

    def shuffled(value):
        if isinstance(value, dict):
            items = list(value.items())
            rnd.shuffle(items)
            return {key: shuffled(item) for key, item in items}
        if isinstance(value, list):
            return [shuffled(item) for item in value]
        return value

    text = json.dumps(shuffled(template), indent=indent)
    assert template_fingerprint(parse_template(text, "t")) == template_fingerprint(template)


@settings(max_examples=150, deadline=None)
@given(json_values, json_values)
def test_fingerprint_separates_different_documents(first, second):
    one = {"Resources": {"R": {"Type": "AWS::X::Y", "Properties": {"V": first}}}}
    two = {"Resources": {"R": {"Type": "AWS::X::Y", "Properties": {"V": second}}}}
    assert (template_fingerprint(one) == template_fingerprint(two)) == (canonical_json(first) == canonical_json(second))


def test_template_changes_name_what_a_stack_update_would_change() -> None:
    old = {
        "Parameters": {"TenantId": {"Type": "String"}},
        "Resources": {"Orders": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "a", "Parameters": {}}},
                      "Gone": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"Url": {"Value": "x"}},
    }
    new = {
        "Parameters": {"TenantId": {"Type": "String"}, "Tier": {"Type": "String", "Default": "s"}},
        "Resources": {"Orders": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "b", "Parameters": {}}},
                      "Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"Url": {"Value": "x"}},
    }
    assert template_changes(old, new) == [
        "Parameters.Tier: added",
        "Resources.Gone: removed",
        "Resources.Orders: modified (Properties.TemplateURL)",
        "Resources.Queue: added (AWS::SQS::Queue)",
    ]
    assert template_changes(new, new) == []


def test_template_changes_open_nested_stacks_whose_template_changed() -> None:
    def stack(url: str, **extra: Any) -> Dict[str, Any]:
        return {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url, **extra}}

    nested = {
        "a": {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "pk"}]}},
                            "Inner": stack("c")}},
        "b": {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "id"}]}},
                            "Inner": stack("d")}},
        "c": {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "a.h"}}}},
        "d": {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "b.h"}}}},
    }
    read: List[str] = []

    def fetch(url: str) -> Dict[str, Any]:
        read.append(url)
        return nested[url]

    old = {"Resources": {"Orders": stack("a"), "Same": stack("c")}}
    new = {"Resources": {"Orders": stack("b", TimeoutInMinutes=5), "Same": stack("c")}}
    assert template_changes(old, new, fetch) == [
        "Resources.Orders/Inner/Fn: modified (Properties.Handler)",
        "Resources.Orders/Table: modified (Properties.KeySchema)",
        "Resources.Orders: modified (Properties.TimeoutInMinutes)",
    ]
    assert read == ["a", "b", "c", "d"]  # an unchanged nested stack (Same) is not read

    def unreadable(url: str) -> Dict[str, Any]:
        raise TemplateError(f"AccessDenied reading {url}")

    assert template_changes(old, new, unreadable) == [
        "Resources.Orders: modified (Properties.TemplateURL; nested templates not readable: AccessDenied reading a)"]


def test_local_copy_reads_the_file_a_check_run_would_publish(tmp_path) -> None:
    copy = tmp_path / "t.json"
    copy.write_bytes(b"{}")
    copies = {"https://b.s3.eu-west-1.amazonaws.com/t.json": str(copy), "https://b.s3.eu-west-1.amazonaws.com/gone.json": str(tmp_path / "gone")}
    assert local_copy(copies, "https://b.s3.eu-west-1.amazonaws.com/t.json") == b"{}"
    assert local_copy(copies, "https://b.s3.eu-west-1.amazonaws.com/gone.json") is None  # the build folder was cleaned
    assert local_copy(copies, "https://b.s3.eu-west-1.amazonaws.com/other.json") is None
