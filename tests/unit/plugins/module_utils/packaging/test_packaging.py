"""The packaging core with the packager stand-in (benchmarks/fake_sls): discovery, working copies, cache, errors, slots.

And ``collect_output`` on real captured serverless 3 / osls output (tests/unit/fixtures/sls_output_bookshelf):
the same sources packaged by another run on another machine give the same bytes.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
import zipfile
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl
from ansible_collections.multiregion.serverless.plugins.module_utils.common import sha256_file, write_fresh_file
from ansible_collections.multiregion.serverless.plugins.module_utils.concurrency import SlotPool
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import runner
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import sources as src
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.output import collect_output
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import PackagingError
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.serverless import ServerlessPackager
from ansible_collections.multiregion.serverless.plugins.modules import sls_package

REPO = Path(__file__).resolve().parents[5]
FAKE_SLS = str(REPO / "benchmarks" / "fake_sls" / "fake_sls")

SERVICE_YML = """service: {name}
frameworkVersion: ">=3 <5"
provider:
  name: aws
  runtime: python3.11
  deploymentBucket: ${{file(../../shared/common.yml):deploymentBucket}}
  environment:
    TABLE: !Ref Table
functions:
  main:
    handler: handler.main
"""


def make_project(root: Path, names=("alpha", "beta", "authorizer")) -> Path:
    (root / "shared").mkdir(parents=True)
    (root / "shared" / "common.yml").write_text("deploymentBucket:\n  name: mrs-artifacts-${sls:stage}-${aws:region}\n")
    for name in names:
        service = root / "services" / name
        service.mkdir(parents=True)
        (service / "serverless.yml").write_text(SERVICE_YML.format(name=name))
        (service / "handler.py").write_text(f"def main(event, context):\n    return '{name}'\n")
    return root


def context(tmp_path: Path, project: Path, region="eu-west-1", slots=8, trace=None, seconds="0") -> runner.PackagingContext:
    env = dict(os.environ, FAKE_SLS_SECONDS=seconds)
    if trace:
        env["FAKE_SLS_TRACE"] = str(trace)
    build = tmp_path / "build"
    return runner.PackagingContext(stage="dev", region=region, project_dir=str(project), build_root=str(build),
                                   slots=SlotPool(str(build / "slots"), slots), locks_dir=str(build / "slots"),
                                   env=env, timeout=60, extra_skip=[str(build)])


def sources(project: Path, names=("alpha", "beta", "authorizer")):
    return {name: str(project / "services" / name) for name in names}


def tree_snapshot(root: Path):
    return {str(path.relative_to(root)): (path.read_bytes() if path.is_file() else None) for path in sorted(root.rglob("*"))}


# ------------------------------------------------------------------------------------------- discovery


def test_discovery_applies_both_exclusion_lists_and_reports_unknown_names(tmp_path):
    project = make_project(tmp_path / "p", ("a", "b", "legacy", "e2e"))
    (project / "services" / "no-config").mkdir()
    found = src.discover_services(str(project / "services"), ["legacy", "typo"], ["e2e"])
    assert found == {"services": ["a", "b"], "excluded": ["legacy", "e2e"], "unknown_exclusions": ["typo"]}


def test_discovery_of_a_missing_folder_fails(tmp_path):
    with pytest.raises(PackagingError, match="services directory not found"):
        src.discover_services(str(tmp_path / "nope"))


def test_config_checks_give_clear_messages(tmp_path):
    service = tmp_path / "svc"
    service.mkdir()
    with pytest.raises(PackagingError, match="no serverless.yml"):
        src.check_config("svc", str(service), "dev")
    (service / "serverless.yml").write_text("service: svc\nprovider:\n  name: aws\n bad: [\n")
    with pytest.raises(PackagingError, match=r"not valid YAML at line \d+"):
        src.check_config("svc", str(service), "dev")
    (service / "serverless.yml").write_text("service: svc\nprovider: {name: aws, role: !GetAtt Role.Arn}\nparams:\n  prod: {a: 1}\n  qa: {a: 2}\n")
    with pytest.raises(PackagingError, match="stage 'dev' is unknown"):
        src.check_config("svc", str(service), "dev")
    assert src.check_config("svc", str(service), "qa").endswith("serverless.yml")


def test_missing_binary_is_reported(tmp_path):
    with pytest.raises(PackagingError, match="binary not found"):
        ServerlessPackager(str(tmp_path / "sls"))


# ------------------------------------------------------------------------------------------- inputs and copies


def test_input_digest_follows_content_stage_region_and_referenced_files(tmp_path):
    project = make_project(tmp_path / "p", ("alpha",))
    source = str(project / "services" / "alpha")
    shared = [str(project / "shared" / "common.yml")]
    assert src.referenced_files(str(project / "services" / "alpha" / "serverless.yml")) == shared
    base = src.input_digest(source, shared, stage="dev", region="eu-west-1", framework="serverless@3.40.0")
    assert base == src.input_digest(source, shared, stage="dev", region="eu-west-1", framework="serverless@3.40.0")
    assert base != src.input_digest(source, shared, stage="qa", region="eu-west-1", framework="serverless@3.40.0")
    assert base != src.input_digest(source, shared, stage="dev", region="us-east-1", framework="serverless@3.40.0")
    assert base != src.input_digest(source, shared, stage="dev", region="eu-west-1", framework="osls@4.3.1")
    (project / "services" / "alpha" / ".serverless").mkdir()
    (project / "services" / "alpha" / ".serverless" / "junk.zip").write_text("x")
    assert base == src.input_digest(source, shared, stage="dev", region="eu-west-1", framework="serverless@3.40.0")
    (project / "shared" / "common.yml").write_text("deploymentBucket: {name: other}\n")
    assert base != src.input_digest(source, shared, stage="dev", region="eu-west-1", framework="serverless@3.40.0")


def test_working_copy_links_files_symlinks_the_rest_and_never_writes_the_source(tmp_path):
    project = make_project(tmp_path / "p", ("alpha", "beta"))
    (project / "services" / "alpha" / "node_modules" / "dep").mkdir(parents=True)
    (project / "services" / "alpha" / "node_modules" / "dep" / "index.js").write_text("x")
    before = tree_snapshot(project)
    copy = Path(src.prepare_working_copy(str(project), str(project / "services" / "alpha"), str(tmp_path / "copy")))
    assert copy == tmp_path / "copy" / "services" / "alpha"
    assert os.path.samefile(copy / "handler.py", project / "services" / "alpha" / "handler.py")  # hard link
    assert (copy / "node_modules").is_symlink()
    assert (tmp_path / "copy" / "shared").is_symlink() and (tmp_path / "copy" / "services" / "beta").is_symlink()
    assert (copy / ".." / ".." / "shared" / "common.yml").read_text().startswith("deploymentBucket")
    # What a packager does in the copy stays there.
    (copy / ".serverless").mkdir()
    (copy / ".serverless" / "out.zip").write_text("zip")
    write_fresh_file(str(copy / "serverless.yml"), b"service: changed\n")
    assert tree_snapshot(project) == before


# ------------------------------------------------------------------------------------------- packaging


def test_packaging_is_cached_and_deterministic(tmp_path):
    project = make_project(tmp_path / "p")
    packager = ServerlessPackager(FAKE_SLS)
    first = runner.package_services(sources(project), packager, context(tmp_path, project), 4, ["authorizer"], "first")
    assert not first["failures"]
    assert [item["status"] for item in first["results"]] == ["packaged"] * 3
    alpha = first["results"][0]
    assert alpha["artifacts"][0]["s3_key"] == f"serverless/alpha/dev/{alpha['artifacts'][0]['sha256'][:16]}/alpha.zip"
    assert alpha["template_key"] == f"serverless/alpha/dev/templates/{alpha['template_sha256']}.json"
    assert alpha["function_logical_ids"] == ["MainLambdaFunction"]
    assert alpha["artifact_bucket"] == "mrs-artifacts-dev-eu-west-1"
    template_bytes = Path(alpha["template_path"]).read_bytes()
    assert b"T12:" not in template_bytes and alpha["artifacts"][0]["s3_key"].encode() in template_bytes

    second = runner.package_services(sources(project), packager, context(tmp_path, project), 4, ["authorizer"], "first")
    assert [item["status"] for item in second["results"]] == ["cached"] * 3
    assert second["results"][0]["template_sha256"] == alpha["template_sha256"]

    # A changed handler re-packages that service only, with new keys.
    (project / "services" / "alpha" / "handler.py").write_text("def main(event, context):\n    return 'new'\n")
    third = runner.package_services(sources(project), packager, context(tmp_path, project), 4, ["authorizer"], "first")
    assert [item["status"] for item in third["results"]] == ["packaged", "cached", "cached"]
    assert third["results"][0]["artifacts"][0]["s3_key"] != alpha["artifacts"][0]["s3_key"]

    # Without the cache (new build root) the unchanged service gives byte-identical output.
    fresh = runner.package_services(sources(project, ("beta",)), packager, context(tmp_path / "other", project), 1)
    assert Path(fresh["results"][0]["template_path"]).read_bytes() == Path(second["results"][1]["template_path"]).read_bytes()


def test_a_failing_service_names_service_region_and_output_and_stops_new_work(tmp_path):
    project = make_project(tmp_path / "p")
    (project / "services" / "authorizer" / "fake-sls-fail").write_text("Cannot resolve variable at \"provider.role\"")
    outcome = runner.package_services(sources(project), ServerlessPackager(FAKE_SLS), context(tmp_path, project), 4, ["authorizer"], "first")
    assert [failure["service"] for failure in outcome["failures"]] == ["authorizer"]
    message = outcome["failures"][0]["msg"]
    assert "service authorizer in eu-west-1" in message and "Cannot resolve variable" in message
    assert outcome["results"] == []  # authorizer goes first; nothing starts after a failure


def test_serial_services_go_first_or_last(tmp_path):
    project = make_project(tmp_path / "p")
    assert runner.order_services(["alpha", "authorizer", "beta"], ["authorizer"], "first") == \
        {"before": ["authorizer"], "parallel": ["alpha", "beta"], "after": []}
    assert runner.order_services(["alpha", "authorizer", "beta"], ["authorizer"], "last")["after"] == ["authorizer"]
    trace = tmp_path / "trace"
    runner.package_services(sources(project), ServerlessPackager(FAKE_SLS), context(tmp_path, project, trace=trace), 4, ["authorizer"], "last")
    events = [line.split() for line in trace.read_text().splitlines()]
    authorizer_start = next(index for index, event in enumerate(events) if event[0] == "start" and event[2] == "authorizer")
    assert sum(1 for event in events[:authorizer_start] if event[0] == "end") == 2


def max_overlap(trace: Path) -> int:
    running = peak = 0
    for event in sorted((int(line.split()[1]), line.split()[0] == "start") for line in trace.read_text().splitlines()):
        running += 1 if event[1] else -1
        peak = max(peak, running)
    return peak


def test_the_slot_pool_caps_packagings_across_concurrent_callers(tmp_path):
    """Three 'region hosts' with 4 threads each share 3 slots: never more than 3 packagings at once."""
    project = make_project(tmp_path / "p", tuple(f"svc{index}" for index in range(4)))
    trace = tmp_path / "trace"
    outcomes = {}

    def region_host(region):
        ctx = context(tmp_path, project, region=region, slots=3, trace=trace, seconds="0.3")
        outcomes[region] = runner.package_services(sources(project, tuple(f"svc{index}" for index in range(4))), ServerlessPackager(FAKE_SLS), ctx, 4)

    threads = [threading.Thread(target=region_host, args=(region,)) for region in ("us-east-1", "eu-west-1", "ap-southeast-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not outcome["failures"] and len(outcome["results"]) == 4 for outcome in outcomes.values())
    assert max_overlap(trace) <= 3
    assert max_overlap(trace) >= 2  # and they did run side by side
    # Every region has its own working copy and output.
    keys = {region: {item["artifact_bucket"] for item in outcome["results"]} for region, outcome in outcomes.items()}
    assert keys == {region: {f"mrs-artifacts-dev-{region}"} for region in outcomes}


# ------------------------------------------------------------------------------------------- deterministic output

BOOKSHELF = REPO / "tests" / "unit" / "fixtures" / "sls_output_bookshelf"


def rezip_as_another_machine(source: Path, destination: Path) -> None:
    """The same files as another machine's packager could zip them: reversed order, group-writable modes, today's date."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as other:
        for info in reversed(original.infolist()):
            entry = zipfile.ZipInfo(info.filename, date_time=(2026, 12, 2, 9, 27, 43))
            entry.external_attr = ((info.external_attr >> 16) | 0o020) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            other.writestr(entry, original.read(info))


def another_run(source: Path, destination: Path) -> Path:
    """A copy of a captured output folder as a later run on another machine writes it: other stamps, other ZIP bytes."""
    destination.mkdir(parents=True)
    raw = (source / "cloudformation-template-update-stack.json").read_text()
    stamp = re.search(r"/(\d{13}-[^/]+Z)/", raw).group(1)
    deployment = re.search(r"ApiGatewayDeployment(\d{13})", raw).group(1)
    later = raw.replace(stamp, "1796203700123-2026-12-02T09:28:20.123Z").replace(deployment, "1796203699457")
    (destination / "cloudformation-template-update-stack.json").write_text(later)
    for path in source.glob("*.zip"):
        rezip_as_another_machine(path, destination / path.name)
        assert (destination / path.name).read_bytes() != path.read_bytes()
    return destination


def test_collect_output_gives_the_same_bytes_and_keys_for_another_run_on_another_machine(tmp_path):
    source = BOOKSHELF / "serverless3" / "bookshelf-eu-west-1"
    results = [collect_output("bookshelf", "service", "dev", str(folder), str(tmp_path / name / "out"))
               for name, folder in (("first", source), ("second", another_run(source, tmp_path / "raw")),
                                    ("osls", BOOKSHELF / "osls" / "bookshelf-eu-west-1"))]
    first = results[0]
    for other in results[1:]:
        assert Path(other["template_path"]).read_bytes() == Path(first["template_path"]).read_bytes()
        assert (other["template_sha256"], other["template_key"]) == (first["template_sha256"], first["template_key"])
        assert [(item["name"], item["sha256"], item["s3_key"], item["size"]) for item in other["artifacts"]] == \
               [(item["name"], item["sha256"], item["s3_key"], item["size"]) for item in first["artifacts"]]
        for item, mine in zip(other["artifacts"], first["artifacts"]):
            assert Path(item["path"]).read_bytes() == Path(mine["path"]).read_bytes()
    # The keys and the template name the normalised ZIPs, which are what gets uploaded.
    body = Path(first["template_path"]).read_text()
    for item in first["artifacts"]:
        assert item["sha256"] == sha256_file(item["path"]) and f"/{item['sha256'][:16]}/{item['name']}" in item["s3_key"]
        assert item["s3_key"] in body
    assert not re.search(r"\d{13}", body)


def test_collect_output_refuses_run_specific_values_and_leaves_nothing(tmp_path):
    source = BOOKSHELF / "osls" / "bookshelf-eu-west-1"
    leaky = tmp_path / "raw"
    leaky.mkdir()
    for path in source.iterdir():
        (leaky / path.name).write_bytes(path.read_bytes())
    template = json.loads((leaky / "cloudformation-template-update-stack.json").read_text())
    build_root = str(tmp_path / "build")
    # `${sls:instanceId}` (the CLI's start, in ms) and a path of the working copy.
    template["Resources"]["AddBookLambdaFunction"]["Properties"]["Environment"]["Variables"].update(
        DEPLOYED=str(int(time.time() * 1000)), CONFIG=f"{build_root}/dev/eu-west-1/services/bookshelf/src/config.json")
    (leaky / "cloudformation-template-update-stack.json").write_text(json.dumps(template))
    out = tmp_path / "out"
    with pytest.raises(tpl.TemplateError) as raised:
        collect_output("bookshelf", "service", "dev", str(leaky), str(out), [build_root])
    assert "Variables.DEPLOYED" in str(raised.value) and f"Variables.CONFIG: {build_root}" in str(raised.value)
    assert not out.exists()


def test_context_names_the_machine_paths(tmp_path):
    project = make_project(tmp_path / "p", ("alpha",))
    ctx = context(tmp_path, project)
    assert {str(project), str(tmp_path / "build")} <= set(ctx.machine_paths())


def test_the_post_processing_version_is_part_of_the_cache_key(tmp_path, monkeypatch):
    project = make_project(tmp_path / "p", ("alpha",))
    before = src.input_digest(str(project / "services" / "alpha"), stage="dev", region="eu-west-1")
    monkeypatch.setattr(src, "POST_PROCESSING_VERSION", src.POST_PROCESSING_VERSION + "-next")
    assert src.input_digest(str(project / "services" / "alpha"), stage="dev", region="eu-west-1") != before


# ---- sls_package through its main(): check mode packages like a real run, and the module never reports changed


def run_module(capsys, project: Path, build: Path, check: bool = False):
    args = {"project_dir": str(project), "stage": "dev", "region": "eu-west-1", "sls_binary": FAKE_SLS, "build_root": str(build),
            "services": ["alpha", "beta"], "_ansible_check_mode": check}
    with patch_module_args(args), pytest.raises(SystemExit):
        sls_package.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_packages_into_the_cache_and_the_real_run_reuses_it(capsys, tmp_path):
    """Packaging writes only the build folder, not AWS: a check run packages for real (so the upload and catalog checks
    see what the run publishes), the run after it reuses the cache, and neither reports changed."""
    project, build = make_project(tmp_path / "project"), tmp_path / "build"

    checked = run_module(capsys, project, build, check=True)
    assert checked["changed"] is False and not checked.get("failed"), checked
    assert [(s["name"], s["status"]) for s in checked["services"]] == [("alpha", "packaged"), ("beta", "packaged")]
    assert all(Path(s["template_path"]).is_file() for s in checked["services"])
    assert checked["summary"] == "eu-west-1: 2 of 2 services packaged, 0 of 0 init stacks packaged, 0 unchanged"

    real = run_module(capsys, project, build)
    assert real["changed"] is False and [s["status"] for s in real["services"]] == ["cached", "cached"]
    # The run publishes exactly what the check run saw: same keys, same templates.
    assert [(s["template_key"], s["artifacts"]) for s in real["services"]] == [(s["template_key"], s["artifacts"]) for s in checked["services"]]

    (project / "services" / "beta" / "handler.py").write_text("def main(event, context):\n    return 'changed'\n")
    changed = run_module(capsys, project, build)
    assert changed["changed"] is False and changed["packaged"] == ["beta"] and changed["cached"] == ["alpha"]
