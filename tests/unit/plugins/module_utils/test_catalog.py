"""Catalog decisions: version names and numbering, fingerprints in descriptions, SSM names, lifecycle."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.multiregion.serverless.plugins.module_utils.naming import highest_version_parameter as default_highest_version_parameter
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import latest_id_parameter as default_latest_id_parameter
from ansible_collections.multiregion.serverless.plugins.module_utils.catalog import (
    MAX_DESCRIPTION_LENGTH,
    CatalogError,
    VersionScheme,
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

FINGERPRINT = "sha256:" + "ab" * 32
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def artifact(name, number=0, active=True, guidance="DEFAULT", id_=None):
    return {"Id": id_ or f"pa-{name.lower()}", "Name": name, "Active": active, "Guidance": guidance, "CreatedTime": T0 + timedelta(minutes=number)}


# ------------------------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    "name, number",
    [("V1", 1), ("V12", 12), ("V0", 0), ("V012", None), ("v12", None), ("V12a", None), ("V", None), ("V-1", None), ("hotfix", None),
     (None, None), ("V1 ", None)],
)
def test_default_scheme_parses_only_its_own_names(name, number):
    assert VersionScheme().number(name) == number


def test_custom_scheme_round_trips():
    scheme = VersionScheme("release-<n>.0")
    assert scheme.name(7) == "release-7.0"
    assert scheme.number("release-7.0") == 7
    assert scheme.number("release-7x0") is None  # the dot is literal


@pytest.mark.parametrize("pattern", ["V", "V<n><n>", "V1<n>", "<n>2", ""])
def test_bad_schemes_are_refused(pattern):
    with pytest.raises(CatalogError):
        VersionScheme(pattern)


def test_next_version_is_one_above_the_highest_of_all_artifacts():
    names = ["V1", "V2", "V5", "V12", "V9", "hotfix-2024", "Initial", "V3"]
    result = next_version(names, VersionScheme())
    assert (result.number, result.name, result.highest_listed) == (13, "V13", 12)
    assert result.ignored_names == ["Initial", "hotfix-2024"]


def test_next_version_never_reuses_a_deleted_number():
    # V13 was issued (the high-water mark says so) and then deleted: the next one is V14.
    assert next_version(["V1", "V12"], VersionScheme(), highest_issued=13).name == "V14"
    # A mark below the listed artifacts (an older run, seeded artifacts) does not pull the number down.
    assert next_version(["V1", "V12"], VersionScheme(), highest_issued=4).name == "V13"


def test_first_version_of_an_empty_product_is_v1():
    assert next_version([], VersionScheme()).name == "V1"
    assert next_version(["Initial"], VersionScheme()).name == "V1"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10_000), max_size=30), st.lists(st.text(max_size=6), max_size=5), st.integers(0, 10_000))
def test_next_version_property(numbers, foreign, highest_issued):
    scheme = VersionScheme()
    names = [scheme.name(number) for number in numbers] + foreign
    result = next_version(names, scheme, highest_issued)
    assert result.number == max(numbers + [highest_issued, 0]) + 1
    assert scheme.number(result.name) == result.number
    assert result.name not in names
    assert set(result.ignored_names) == {name for name in foreign if scheme.number(name) is None}


def test_highest_issued_belongs_to_one_product():
    value = highest_issued_value("prod-abc", 13)
    assert parse_highest_issued(value, "prod-abc") == 13
    assert parse_highest_issued(value, "prod-other") == 0  # a product re-created under the same name starts over
    for junk in (None, "", "13", "not json", '{"product_id": "prod-abc", "highest_version": true}', '{"product_id": "prod-abc", "highest_version": -2}'):
        assert parse_highest_issued(junk, "prod-abc") == 0


# --------------------------------------------------------------------------------------- fingerprints


def test_fingerprint_round_trips_through_the_description():
    text = description_with_fingerprint("Orders 2.3", FINGERPRINT)
    assert text == f"Orders 2.3 [fingerprint:{FINGERPRINT}]"
    assert fingerprint_from_description(text) == FINGERPRINT
    assert description_with_fingerprint(None, FINGERPRINT) == f"[fingerprint:{FINGERPRINT}]"


def test_an_old_marker_is_replaced_not_stacked():
    old = description_with_fingerprint("x", "sha256:" + "0" * 64)
    assert description_with_fingerprint(old, FINGERPRINT) == f"x [fingerprint:{FINGERPRINT}]"


def test_a_long_description_is_cut_so_the_marker_survives():
    text = description_with_fingerprint("d" * 10_000, FINGERPRINT)
    assert len(text) <= MAX_DESCRIPTION_LENGTH
    assert fingerprint_from_description(text) == FINGERPRINT


@pytest.mark.parametrize("description", [None, "", "made by hand", "[fingerprint:sha256:short]", f"[fingerprint:{FINGERPRINT}] then more"])
def test_hand_made_descriptions_have_no_fingerprint(description):
    assert fingerprint_from_description(description) is None


# ------------------------------------------------------------------------------------------------ SSM


@pytest.mark.parametrize("name", ["/multiregion/dev/products/core/latest-artifact-id", "/a", "/A_b.c-d/e", "/" + "/".join(["l"] * 15)])
def test_valid_ssm_paths(name):
    assert check_ssm_parameter_name(name) == name


@pytest.mark.parametrize(
    "name, reason",
    [
        ("", "empty"),
        ("multiregion/dev/x", "must start with '/'"),
        ("/multiregion/dev x", "characters SSM does not allow"),
        ("/multiregion/dév", "characters SSM does not allow"),
        ("/multiregion//x", "empty level"),
        ("/multiregion/x/", "empty level"),
        ("/" + "/".join(["l"] * 16), "16 levels"),
        ("/" + "a" * 1011, "more than the 1011"),
        ("/aws/x", "reserved prefix"),
        ("/SSMthing/x", "reserved prefix"),
    ],
)
def test_invalid_ssm_paths_are_refused_with_the_reason(name, reason):
    with pytest.raises(CatalogError, match=reason.replace("(", r"\(")):
        check_ssm_parameter_name(name)


def test_default_parameter_names_follow_the_project_layout():
    latest = default_latest_id_parameter("/multiregion/dev/", "platform-core")
    assert latest == "/multiregion/dev/products/platform-core/latest-artifact-id"
    assert default_highest_version_parameter(latest) == "/multiregion/dev/products/platform-core/highest-version-number"


# ------------------------------------------------------------------------------------------ artifacts


def test_active_is_the_highest_numbered_active_scheme_version():
    artifacts = [artifact("V3", 3), artifact("V12", 12, active=False), artifact("V11", 11), artifact("hotfix", 20)]
    assert choose_active(artifacts, VersionScheme())["Name"] == "V11"


def test_active_falls_back_to_the_newest_hand_made_artifact():
    artifacts = [artifact("first", 1), artifact("second", 2), artifact("third", 3, active=False)]
    assert choose_active(artifacts, VersionScheme())["Name"] == "second"
    assert choose_active([artifact("V1", 1, active=False)], VersionScheme()) is None
    assert choose_active([], VersionScheme()) is None


def test_lifecycle_keeps_the_newest_k_and_spares_versions_in_use():
    artifacts = [artifact(f"V{n}", n) for n in range(1, 7)] + [artifact("hotfix", 0)]
    artifacts[0]["Active"] = False
    artifacts[0]["Guidance"] = "DEPRECATED"  # V1 is already retired: nothing to do
    plan = plan_lifecycle(artifacts, VersionScheme(), keep_active=2, in_use_ids={"pa-v3"})
    assert [item["name"] for item in plan.deprecate] == ["V4", "V2"]
    assert [item["name"] for item in plan.kept_in_use] == ["V3"]


def test_lifecycle_finishes_a_half_retired_version():
    artifacts = [artifact("V1", 1, active=False), artifact("V2", 2)]
    assert [item["name"] for item in plan_lifecycle(artifacts, VersionScheme(), 1, set()).deprecate] == ["V1"]


def test_lifecycle_needs_one_version_kept():
    with pytest.raises(CatalogError):
        plan_lifecycle([], VersionScheme(), 0, set())


# ------------------------------------------------------------------------------------------ version quota


def test_quota_under_the_limit_needs_nothing_and_reads_nothing_else():
    artifacts = [artifact(f"V{n}", n) for n in range(1, 3)]
    quota = plan_version_quota(artifacts, set(), set(), limit=3)
    assert quota.fits and quota.excess == 0 and quota.prune == [] and quota.prunable == []


def test_quota_at_the_limit_prunes_the_oldest_unused_one():
    artifacts = [artifact(f"V{n}", n) for n in range(1, 4)]
    quota = plan_version_quota(artifacts, in_use_ids=set(), keep_ids={"pa-v3"}, limit=3)
    assert (quota.count, quota.limit, quota.excess) == (3, 3, 1)
    assert quota.enough and quota.prune == [{"id": "pa-v1", "name": "V1"}]
    assert [item["name"] for item in quota.prunable] == ["V1", "V2"]


def test_quota_at_the_limit_with_nothing_prunable():
    artifacts = [artifact(f"V{n}", n) for n in range(1, 4)]
    quota = plan_version_quota(artifacts, in_use_ids={"pa-v1", "pa-v2"}, keep_ids=set(), limit=3)
    assert quota.excess == 1 and quota.prunable == [] and not quota.enough and quota.prune == []


def test_quota_never_chooses_the_newest_a_kept_or_an_in_use_version():
    # The newest (by CreatedTime) is V2 here, though V9 has the highest number; V9 is the current one (kept).
    artifacts = [artifact("V9", 5), artifact("V1", 1), artifact("V2", 9), artifact("V3", 3), artifact("V4", 4, active=False)]
    quota = plan_version_quota(artifacts, in_use_ids={"pa-v3"}, keep_ids={"pa-v9", None}, limit=2)
    assert [item["name"] for item in quota.prunable] == ["V1", "V4"]
    assert quota.excess == 4 and not quota.enough and quota.prune == []


def test_quota_orders_the_candidates_oldest_first_by_created_time():
    artifacts = [artifact("hotfix", 2), artifact("V7", 7), artifact("V3", 1), artifact("V5", 5), artifact("V8", 8)]
    quota = plan_version_quota(artifacts, set(), {"pa-v7"}, limit=4)
    assert [item["name"] for item in quota.prunable] == ["V3", "hotfix", "V5"]  # V7 and V8: newest / kept
    assert [item["name"] for item in quota.prune] == ["V3", "hotfix"]  # 5 + 1 - 4 = 2 must go


def test_quota_limit_must_be_positive():
    with pytest.raises(CatalogError, match="version_limit must be 1 or more"):
        plan_version_quota([], set(), set(), 0)


def test_quota_refusals_are_one_line_and_name_what_could_go():
    artifacts = [artifact(f"V{n}", n) for n in range(1, 4)]
    quota = plan_version_quota(artifacts, set(), {"pa-v3"}, limit=3)
    assert quota_refusal("platform-core-dev", quota, pruning=False) == (
        "product platform-core-dev has 3 of 3 versions: delete one (V1 pa-v1, V2 pa-v2) or set prune_versions=true (role: catalog_prune_versions)"
    )
    many = plan_version_quota([artifact(f"V{n}", n) for n in range(1, 16)], set(), set(), limit=15)
    listed = "delete one (V1 pa-v1, V2 pa-v2, V3 pa-v3 and 11 more) or set prune_versions=true (role: catalog_prune_versions)"
    assert quota_refusal("p", many, pruning=False, most_listed=3).endswith(listed)
    none = plan_version_quota(artifacts, {"pa-v1", "pa-v2"}, set(), limit=3)
    for pruning in (False, True):
        message = quota_refusal("p", none, pruning)
        assert message.startswith("product p has 3 of 3 versions: no version can go") and "catalog_version_limit" in message
    short = plan_version_quota(artifacts, {"pa-v2"}, set(), limit=2)
    assert quota_refusal("p", short, pruning=True).startswith("product p has 3 of 2 versions: 2 must go but only 1 can (V1 pa-v1); ")
    assert "\n" not in quota_refusal("p", short, pruning=False)


def test_content_addressed_key():
    assert content_addressed_key("products/core/dev/", "ab12", ".yml") == "products/core/dev/ab12.yml"
    assert content_addressed_key("", "ab12") == "ab12.json"
