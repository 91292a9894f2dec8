"""Two stages in one account and the same regions, used as a platform team would: each stage owns its products.

dev and qa share account 123456789012 and both regions (as ``examples/project.yml`` has them). The scenario, in
order: deploy dev and give it tenants; deploy qa with the rollout; dev's versions, SSM parameters and tenants are
exactly as before (read back with boto3) and a dev no-change run writes nothing but its own bookkeeping (call
counts); a qa run with a dev run id to resume, a project in which qa would share dev's product, and a hand-made
product in a new stage's name are each refused before anything is written, the last one with the command that
adopts it; after that command the run goes through on the adopted product. Everything runs through ``ansible-playbook`` with
the ``-e key=value`` strings a user types.

The stand-in packager (benchmarks/fake_sls) keeps packaging to a fraction of a second per service.
"""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from chaos_helpers import FAKE_SLS, ChaosProject, make_project
from deploy_helpers import (
    BOOKKEEPING_WRITES,
    DEPLOY_PLAYBOOK,
    PlaybookRunner,
    bucket_keys,
    edit_project_settings,
    lock_value,
    product_versions,
    provision_tenants,
    run_id_of,
    tenants,
    writes,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGIONS = ["us-east-1", "eu-west-1"]
STAGES = ["dev", "qa"]
PRODUCT = "chaos-core"
TENANTS_PER_REGION = 3


def catalog_name(stage: str) -> str:
    return f"{PRODUCT}-{stage}"


def ssm_name(stage: str) -> str:
    return f"/multiregion/{stage}/products/{catalog_name(stage)}/latest-artifact-id"


class TwoStages:
    def __init__(self, aws: Any, project: ChaosProject) -> None:
        self.aws = aws
        self.project = project
        self.runner = PlaybookRunner(aws.env, user="platform-team")
        self.calls: Dict[str, Dict[str, Dict[str, int]]] = {}

    def deploy(self, name: str, stage: str, *options: str) -> Any:
        """``ansible-playbook playbooks/deploy.yml -e stage=... -e k=v ...``, every value a string as typed."""
        extra = [f"project_dir={self.project.root}", f"stage={stage}", f"regions={','.join(REGIONS)}", f"package_sls_binary={FAKE_SLS}",
                 "catalog_create_missing_products=true", "rollout_poll_delay=0.2", "rollout_poll_max_delay=1"]
        arguments: List[str] = []
        for option in extra + list(options):
            arguments += ["-e", option]
        self.aws.reset_calls()
        # Test plumbing as JSON: the stand-in packager reads FAKE_SLS_TENANT_PARAMETER to give each service a TenantId
        # parameter, and the small project has no init stacks (a string "false" is issue [5]'s, not this test's).
        plumbing = '{"package_environment": {"FAKE_SLS_TENANT_PARAMETER": "TenantId"}, "package_init_stacks": false}'
        run = self.runner.run(DEPLOY_PLAYBOOK, *arguments, "-e", plumbing)
        self.calls[name] = self.aws.calls()
        return run

    def state(self, stage: str) -> Dict[str, Any]:
        """Per region: the stage product's versions, the SSM parameter (value, version), every tenant of the product."""
        found = {}
        for region in REGIONS:
            ssm = self.aws.client("ssm", region).get_parameter(Name=ssm_name(stage))["Parameter"]
            stage_tenants = {name: t for name, t in tenants(self.aws, region).items() if name.startswith(f"{stage}-")}
            found[region] = {"versions": product_versions(self.aws, region, catalog_name(stage)),
                             "ssm": (ssm["Value"], ssm["Version"]), "tenants": stage_tenants}
        return found


@pytest.fixture(scope="module")
def stages(module_local_aws, tmp_path_factory) -> TwoStages:
    project = make_project(tmp_path_factory.mktemp("two-stages") / "project", "dev", REGIONS, product=PRODUCT)

    def add_qa(settings: Dict[str, Any]) -> None:
        qa = dict(settings["stages"]["dev"], artifact_bucket="mrs-artifacts-qa-{region}", ssm_prefix="/multiregion/qa")
        settings["stages"]["qa"] = qa

    edit_project_settings(project.root, add_qa)
    scenario = TwoStages(module_local_aws, project)
    for stage in STAGES:
        done = scenario.runner.bootstrap(project.root, stage, REGIONS)
        assert done.returncode == 0, done.explain()
    return scenario


def test_each_stage_gets_its_own_products_and_tenants(stages: TwoStages) -> None:
    dev = stages.deploy("dev-cold", "dev")
    assert dev.returncode == 0, dev.explain()
    for region in REGIONS:
        names = [f"dev-{region}-{n}" for n in range(1, TENANTS_PER_REGION + 1)]
        assert set(provision_tenants(stages.aws, region, "/multiregion/dev", catalog_name("dev"), names).values()) == {"SUCCEEDED"}
        tags = stages.aws.client("servicecatalog", region).describe_product_as_admin(Name=catalog_name("dev"))["Tags"]
        assert {"Key": "multiregion:stage", "Value": "dev"} in tags
    dev_before = stages.state("dev")

    # qa's first deploy, with the rollout, in the same account and regions: it makes and rolls out qa's own.
    qa = stages.deploy("qa-cold", "qa", "update_product=true")
    assert qa.returncode == 0, qa.explain()
    assert stages.state("dev") == dev_before, "a qa deploy with the rollout touched dev's versions, SSM parameters or tenants"
    assert writes(stages.calls["qa-cold"]).get("servicecatalog:CreateProduct") == len(REGIONS)
    assert "servicecatalog:UpdateProvisionedProduct" not in writes(stages.calls["qa-cold"])

    # The next dev run, nothing changed: it writes its bookkeeping and nothing else.
    again = stages.deploy("dev-no-change", "dev", "update_product=true")
    assert again.returncode == 0, again.explain()
    assert writes(stages.calls["dev-no-change"]) == BOOKKEEPING_WRITES
    assert stages.state("dev") == dev_before

    # qa gets tenants, then a change deployed to qa alone with the rollout: a new qa version on qa's tenants only.
    for region in REGIONS:
        names = [f"qa-{region}-{n}" for n in range(1, TENANTS_PER_REGION + 1)]
        assert set(provision_tenants(stages.aws, region, "/multiregion/qa", catalog_name("qa"), names).values()) == {"SUCCEEDED"}
    with (stages.project.root / "services" / "orders" / "handler.py").open("a") as handle:
        handle.write("# qa-only change\n")
    qa_rollout = stages.deploy("qa-rollout", "qa", "update_product=true")
    assert qa_rollout.returncode == 0, qa_rollout.explain()
    assert stages.state("dev") == dev_before
    qa_after = stages.state("qa")
    counted = writes(stages.calls["qa-rollout"])
    assert counted["servicecatalog:UpdateProvisionedProduct"] == TENANTS_PER_REGION * len(REGIONS)
    assert counted["servicecatalog:CreateProvisioningArtifact"] == len(REGIONS)
    for region in REGIONS:
        assert [name for name, _id in qa_after[region]["versions"]] == ["V1", "V2"]
        assert {t["artifact"] for t in qa_after[region]["tenants"].values()} == {qa_after[region]["ssm"][0]}
        assert len(qa_after[region]["tenants"]) == TENANTS_PER_REGION


def test_resuming_another_stages_run_is_refused_before_anything_is_written(stages: TwoStages) -> None:
    dev_run = run_id_of(stages.deploy("dev-for-resume", "dev"))
    refused = stages.deploy("qa-resumes-dev", "qa", f"resume={dev_run}")
    assert refused.returncode != 0
    message = refused.failure_messages[0]
    assert message.startswith(f"resume={dev_run} is a run of stage 'dev'") and "not of this stage 'qa'" in message and "\n" not in message
    assert writes(stages.calls["qa-resumes-dev"]) == {}
    assert lock_value(stages.aws, REGIONS[0], "/multiregion/qa") is None
    ledger_stage = (stages.project.runs_dir / dev_run / "ledger.json").read_text()
    assert '"stage": "dev"' in ledger_stage, "the dev run's ledger was rewritten"


def test_a_project_where_two_stages_share_a_product_is_refused_before_any_write(stages: TwoStages) -> None:
    def share(settings: Dict[str, Any]) -> None:
        settings["stages"]["qa"]["product_names"] = {PRODUCT: catalog_name("dev")}

    edit_project_settings(stages.project.root, share)
    try:
        refused = stages.deploy("shared-name", "qa", "update_product=true")
    finally:
        edit_project_settings(stages.project.root, lambda settings: settings["stages"]["qa"].pop("product_names"))
    assert refused.returncode != 0
    assert refused.failure_messages == [
        f"stages 'dev' and 'qa' collide: both would use the Service Catalog product '{catalog_name('dev')}' in account 123456789012, "
        f"region {REGIONS[0]} (key: stages.qa.product_names.{PRODUCT}); give each stage its own"
    ]
    assert writes(stages.calls["shared-name"]) == {}
    assert lock_value(stages.aws, REGIONS[0], "/multiregion/qa") is None


def test_a_product_of_no_stage_is_refused_with_the_adopt_command_and_used_once_adopted(stages: TwoStages) -> None:
    # Someone made the products of a new stage by hand in every region, before its first deploy.
    def add_uat(settings: Dict[str, Any]) -> None:
        settings["stages"]["uat"] = dict(settings["stages"]["dev"], artifact_bucket="mrs-artifacts-uat-{region}", ssm_prefix="/multiregion/uat")

    edit_project_settings(stages.project.root, add_uat)
    assert stages.runner.bootstrap(stages.project.root, "uat", REGIONS).returncode == 0
    hand_made = {}
    for region in REGIONS:
        bucket = f"mrs-artifacts-dev-{region}"
        key = next(key for key in sorted(bucket_keys(stages.aws, bucket, region)) if key.startswith(f"products/{PRODUCT}/"))
        hand_made[region] = stages.aws.client("servicecatalog", region).create_product(
            Name=catalog_name("uat"), Owner="someone", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="by-hand",
            ProvisioningArtifactParameters={"Name": "initial", "Type": "CLOUD_FORMATION_TEMPLATE",
                                            "Info": {"LoadTemplateFromURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}},
        )["ProductViewDetail"]["ProductViewSummary"]["ProductId"]

    refused = stages.deploy("uat-hand-made", "uat")
    assert refused.returncode != 0
    for region in REGIONS:
        command = f"aws servicecatalog update-product --id {hand_made[region]} --add-tags Key=multiregion:stage,Value=uat --region {region}"
        assert any("belongs to no stage" in message and command in message for message in refused.failure_messages), refused.explain()
    counted = writes(stages.calls["uat-hand-made"])
    assert not [op for op in counted if op.startswith("servicecatalog:")], counted
    assert counted.get("ssm:PutParameter") == BOOKKEEPING_WRITES["ssm:PutParameter"], "only the lock: no version id, no counter"
    assert lock_value(stages.aws, REGIONS[0], "/multiregion/uat") is None

    for region in REGIONS:  # the command the message gives, said through boto3
        stages.aws.client("servicecatalog", region).update_product(Id=hand_made[region], AddTags=[{"Key": "multiregion:stage", "Value": "uat"}])
    adopted = stages.deploy("uat-adopted", "uat")
    assert adopted.returncode == 0, adopted.explain()
    for region in REGIONS:
        catalog = stages.aws.client("servicecatalog", region)
        named = [view["ProductViewSummary"]["ProductId"] for view in catalog.search_products_as_admin()["ProductViewDetails"]
                 if view["ProductViewSummary"]["Name"] == catalog_name("uat")]
        assert named == [hand_made[region]], "the adopted product is used, no second one is made"
        assert [name for name, _id in product_versions(stages.aws, region, catalog_name("uat"))] == ["initial", "V1"]
