#!/usr/bin/env bash
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The classic multi-region deploy, step by step as ../shared/reference/multi-region-deploy-design.txt
# describes it, in plain bash + AWS CLI. It is the BASELINE the benchmarks compare the collection with
# (benchmarks/run.py); it is not part of the collection.
#
#   benchmarks/baseline/deploy.sh --stage S [--regions a,b] [--update-product] [--rollout-only]
# (--rollout-only runs phase 4 alone, so the benchmark can time the rollout apart from the deploy.)
# (`aws s3 cp` has no --expected-bucket-owner option: the classic script uploads without the owner check.)
#
# Environment: PROJECT_DIR (a project laid out like examples/, default examples/), SLS (the packager
# command, default serverless 3 from node_modules), COMPOSE (serverless-compose), AWS (the AWS CLI, default
# .venv/bin/aws; honours AWS_ENDPOINT_URL), BASELINE_WORK (scratch folder), BASELINE_POLL_SECONDS (1),
# BASELINE_TENANT_LIMIT (update only the first N tenants per product and region: a sample, 0 = all).
#
# Phases: 1. services in batches of 8 with a barrier per batch (each job packages its service for every
# region in turn: .serverless/ cleaned, `sls package`, S3 keys read from the template with jq, `aws s3 cp`
# per file), then the authorizer sequentially per region; 2. init stacks with serverless-compose per region;
# 3. per product and region: render the template, download the active version's template, diff, and on a
# difference upload it, create-provisioning-artifact V<n+1>, put-parameter; 4. (--update-product) tenants
# of each product in batches of 8: resolve the last record's stack, update-provisioned-product with
# UsePreviousValue=true for every parameter, wait for the batch's records. Failed tenants are logged and
# do not stop the others.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROJECT_DIR=$(cd "${PROJECT_DIR:-$root/examples}" && pwd)
SLS=${SLS:-"node $root/node_modules/serverless/bin/serverless.js"}
COMPOSE=${COMPOSE:-"$root/node_modules/.bin/serverless-compose"}
AWS=${AWS:-"$root/.venv/bin/aws"}
PYTHON=${PYTHON:-"$root/.venv/bin/python"}
WORK=${BASELINE_WORK:-"$PROJECT_DIR/../baseline-work"}
POLL_SECONDS=${BASELINE_POLL_SECONDS:-1}
TENANT_LIMIT=${BASELINE_TENANT_LIMIT:-0}
BATCH=8

# The design's operational settings.
export AWS_RETRY_MODE=adaptive AWS_MAX_ATTEMPTS=3 AWS_PAGER=""
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
ulimit -n 4096 2>/dev/null || true

stage="" regions="us-east-1" update_product=false rollout_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=${2:-}; shift 2 ;;
    --regions) regions=${2:-}; shift 2 ;;
    --update-product) update_product=true; shift ;;
    --rollout-only) update_product=true rollout_only=true; shift ;;
    *) echo "usage: $0 --stage STAGE [--regions r1,r2] [--update-product]" >&2; exit 2 ;;
  esac
done
[ -n "$stage" ] || { echo "error: --stage is required" >&2; exit 2; }
IFS=, read -r -a region_list <<< "$regions"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S.%3N)" "$*"; }

# project.yml as JSON, for jq.
settings=$("$PYTHON" -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$PROJECT_DIR/project.yml")
setting() { jq -r "$1" <<< "$settings"; }
[ "$(setting ".stages[\"$stage\"] != null")" = true ] || { echo "error: stage $stage is not in project.yml" >&2; exit 2; }
bucket_pattern=$(setting ".stages[\"$stage\"].artifact_bucket")
ssm_prefix=$(setting ".stages[\"$stage\"].ssm_prefix")
primary_region=$(setting ".stages[\"$stage\"].primary_region")
services_dir="$PROJECT_DIR/$(setting '.services_dir // "services"')"
init_dir="$PROJECT_DIR/$(setting '.init_dir // "init"')"
products_dir="$PROJECT_DIR/$(setting '.products_dir // "products"')"
authorizer=$(setting '.authorizer.service // ""')
excluded=" $(setting "((.always_excluded_services // []) + (.stages[\"$stage\"].excluded_services // [])) | join(\" \")") "
bucket_of() { echo "${bucket_pattern//\{region\}/$1}"; }
log "stage $stage, regions ${region_list[*]}, primary region $primary_region, bucket of record $(bucket_of "$primary_region")"

if [ "$rollout_only" = false ]; then
rm -rf "$WORK"
mkdir -p "$WORK/keys" "$WORK/products" "$WORK/failed"

# ---- PHASE 1: services -------------------------------------------------------------------------------
# One region of one service: clean, package, upload the ZIPs at the S3Key the template names, then the
# template next to them; remember the template's key for the product templates of phase 3.
package_and_upload() {
  local service=$1 region=$2 dir="$services_dir/$1" bucket key directory
  bucket=$(bucket_of "$region")
  (
    cd "$dir"
    rm -rf .serverless
    $SLS package --stage "$stage" --region "$region" > "$WORK/failed/.log-$service-$region" 2>&1 \
      || { cat "$WORK/failed/.log-$service-$region" >&2; exit 1; }
    # Callers test this function's status, which switches `set -e` off inside it: every step checks itself.
    jq -r '.. | objects | select(has("S3Key")) | .S3Key | strings' .serverless/cloudformation-template-update-stack.json | sort -u |
      while read -r key; do
        "$AWS" s3 cp --only-show-errors ".serverless/$(basename "$key")" "s3://$bucket/$key" || exit 1
      done || exit 1
    directory=$(jq -r '.package.artifactDirectoryName' .serverless/serverless-state.json) || exit 1
    key="$directory/compiled-cloudformation-template.json"
    "$AWS" s3 cp --only-show-errors .serverless/cloudformation-template-update-stack.json "s3://$bucket/$key" || exit 1
    mkdir -p "$WORK/keys/$region"
    echo "$key" > "$WORK/keys/$region/$service"
  )
}

# A service job: every region in turn (one .serverless/ per service folder).
process_service() {
  local service=$1 region
  for region in "${region_list[@]}"; do
    package_and_upload "$service" "$region" || { touch "$WORK/failed/$service"; return 1; }
  done
}

services=()
for config in "$services_dir"/*/serverless.yml; do
  name=$(basename "$(dirname "$config")")
  case "$excluded" in *" $name "*) continue ;; esac
  [ "$name" = "$authorizer" ] && continue
  services+=("$name")
done
log "phase 1: ${#services[@]} services in batches of $BATCH, then the authorizer ($authorizer)"
for ((start = 0; start < ${#services[@]}; start += BATCH)); do
  batch=("${services[@]:start:BATCH}")
  log "  batch $((start / BATCH + 1)): ${batch[*]}"
  pids=()
  for service in "${batch[@]}"; do
    process_service "$service" & pids+=($!)
  done
  status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done   # the barrier
  [ "$status" -eq 0 ] || { echo "error: packaging failed: $(ls "$WORK/failed")" >&2; exit 1; }
done
if [ -n "$authorizer" ] && [ -f "$services_dir/$authorizer/serverless.yml" ]; then
  for region in "${region_list[@]}"; do
    log "  authorizer in $region"
    package_and_upload "$authorizer" "$region"
  done
fi

# ---- PHASE 2: init stacks ----------------------------------------------------------------------------
if [ -f "$init_dir/serverless-compose.yml" ]; then
  log "phase 2: init stacks with serverless-compose"
  # compose runs `serverless` from PATH: make it the packager.
  mkdir -p "$WORK/bin"
  printf '#!/usr/bin/env bash\nexec %s "$@"\n' "$SLS" > "$WORK/bin/serverless"
  chmod +x "$WORK/bin/serverless"
  for region in "${region_list[@]}"; do
    (
      cd "$init_dir"
      rm -rf .serverless ./*/.serverless
      PATH="$WORK/bin:$PATH" MRS_REGION=$region $COMPOSE package --stage "$stage" > "$WORK/failed/.log-init-$region" 2>&1 \
        || { cat "$WORK/failed/.log-init-$region" >&2; exit 1; }
    )
    stacks=$("$PYTHON" -c 'import sys,yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["services"]))' "$init_dir/serverless-compose.yml")
    for stack in $stacks; do
      (
        cd "$init_dir/$stack/.serverless"
        bucket=$(bucket_of "$region")
        jq -r '.. | objects | select(has("S3Key")) | .S3Key | strings' cloudformation-template-update-stack.json | sort -u |
          while read -r key; do
            "$AWS" s3 cp --only-show-errors "$(basename "$key")" "s3://$bucket/$key"
          done
        key="init/$stack/$stage/$(jq -r '.package.artifactDirectoryName' serverless-state.json | xargs basename)/compiled-cloudformation-template.json"
        "$AWS" s3 cp --only-show-errors cloudformation-template-update-stack.json "s3://$bucket/$key"
        echo "$key" > "$WORK/keys/$region/init:$stack"
      ) &
    done
    wait
  done
fi

# ---- PHASE 3: Service Catalog ------------------------------------------------------------------------
# The product template: its parameters, one nested stack per entry pointing at this run's template in the
# region's bucket, TenantId-like parameters passed to the nested stacks that declare them, in order.
render_product() {
  local product_file=$1 region=$2 out=$3
  "$PYTHON" - "$product_file" "$region" "$(bucket_of "$region")" "$WORK/keys/$region" "$services_dir" "$init_dir" "$stage" "$excluded" > "$out" <<'EOF'
import json, os, sys, yaml
product_file, region, bucket, keys, services_dir, init_dir, stage, excluded = sys.argv[1:]
product = yaml.safe_load(open(product_file))
resources, previous = {}, None
for entry in product["nested_stacks"]:
    kind, name = ("service", entry["service"]) if "service" in entry else ("init", entry["init"])
    if kind == "service" and f" {name} " in excluded:
        continue
    key = open(os.path.join(keys, name if kind == "service" else f"init:{name}")).read().strip()
    folder = os.path.join(services_dir if kind == "service" else init_dir, name, ".serverless")
    declared = json.load(open(os.path.join(folder, "cloudformation-template-update-stack.json"))).get("Parameters", {})
    logical = "".join(part.capitalize() for part in name.replace("_", "-").split("-")) + "Stack"
    stack = {"Type": "AWS::CloudFormation::Stack",
             "Properties": {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}",
                            "Parameters": {p: {"Ref": p} for p in product.get("parameters", {}) if p in declared}}}
    if previous:
        stack["DependsOn"] = previous
    resources[logical], previous = stack, logical
print(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Description": product.get("description", ""),
                  "Parameters": product.get("parameters", {}), "Resources": resources}, indent=2, sort_keys=True))
EOF
}

catalog_product() {
  local product_file=$1 region=$2 name bucket rendered product_id active current_url current_key next key artifact_id
  name=$("$PYTHON" -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "$product_file")
  bucket=$(bucket_of "$region")
  rendered="$WORK/products/$region-$name.json"
  render_product "$product_file" "$region" "$rendered"
  product_id=$("$AWS" servicecatalog search-products-as-admin --region "$region" --filters "FullTextSearch=$name" --output json |
    jq -r --arg n "$name" '[.ProductViewDetails[].ProductViewSummary | select(.Name == $n)][0].ProductId // ""')
  key="products/$name/$stage/$(date -u +%Y%m%dT%H%M%S%N).json"
  if [ -z "$product_id" ]; then
    "$AWS" s3 cp --only-show-errors "$rendered" "s3://$bucket/$key" --region "$region"
    artifact_id=$("$AWS" servicecatalog create-product --region "$region" --name "$name" --owner bench --product-type CLOUD_FORMATION_TEMPLATE \
      --provisioning-artifact-parameters "Name=V1,Type=CLOUD_FORMATION_TEMPLATE,Info={LoadTemplateFromURL=https://$bucket.s3.$region.amazonaws.com/$key}" \
      --output json | jq -r '.ProvisioningArtifactDetail.Id')
    log "  $region $name: created with V1 ($artifact_id)"
  else
    active=$("$AWS" servicecatalog list-provisioning-artifacts --region "$region" --product-id "$product_id" --output json |
      jq -c '[.ProvisioningArtifactDetails[] | select(.Active)] | sort_by(.CreatedTime) | last')
    current_url=$("$AWS" servicecatalog describe-provisioning-artifact --region "$region" --product-id "$product_id" \
      --provisioning-artifact-id "$(jq -r .Id <<< "$active")" --output json | jq -r '.Info.TemplateUrl')
    current_key=${current_url#https://*/}
    "$AWS" s3 cp --only-show-errors "s3://$bucket/$current_key" "$WORK/products/$region-$name.current.json" --region "$region"
    if diff -q <(jq -S . "$WORK/products/$region-$name.current.json") <(jq -S . "$rendered") > /dev/null; then
      log "  $region $name: unchanged ($(jq -r .Name <<< "$active"))"
      return 0
    fi
    next="V$(( $(jq -r '.Name | ltrimstr("V")' <<< "$active") + 1 ))"
    "$AWS" s3 cp --only-show-errors "$rendered" "s3://$bucket/$key" --region "$region"
    artifact_id=$("$AWS" servicecatalog create-provisioning-artifact --region "$region" --product-id "$product_id" \
      --parameters "Name=$next,Type=CLOUD_FORMATION_TEMPLATE,Info={LoadTemplateFromURL=https://$bucket.s3.$region.amazonaws.com/$key}" \
      --output json | jq -r '.ProvisioningArtifactDetail.Id')
    log "  $region $name: changed, created $next ($artifact_id)"
  fi
  "$AWS" ssm put-parameter --region "$region" --name "$ssm_prefix/products/$name/latest-artifact-id" --type String \
    --value "$artifact_id" --overwrite > /dev/null
}

log "phase 3: Service Catalog"
for region in "${region_list[@]}"; do
  for product_file in "$products_dir"/*.yml; do
    catalog_product "$product_file" "$region"
  done
done

fi  # rollout_only

# ---- PHASE 4: tenants (opt-in) -----------------------------------------------------------------------
update_tenant() {
  local region=$1 product_id=$2 artifact_id=$3 tenant_id=$4 record stack parameters status
  record=$("$AWS" servicecatalog describe-provisioned-product --region "$region" --id "$tenant_id" --output json |
    jq -r '.ProvisionedProductDetail.LastRecordId')
  stack=$("$AWS" servicecatalog describe-record --region "$region" --id "$record" --output json |
    jq -r '.RecordOutputs[] | select(.OutputKey == "CloudformationStackARN") | .OutputValue')
  parameters=$("$AWS" cloudformation describe-stacks --region "$region" --stack-name "$stack" --output json |
    jq -r '[.Stacks[0].Parameters[]? | "Key=\(.ParameterKey),UsePreviousValue=true"] | join(" ")')
  # shellcheck disable=SC2086  # one argument per parameter
  record=$("$AWS" servicecatalog update-provisioned-product --region "$region" --provisioned-product-id "$tenant_id" \
    --product-id "$product_id" --provisioning-artifact-id "$artifact_id" \
    ${parameters:+--provisioning-parameters $parameters} --output json | jq -r '.RecordDetail.RecordId') || return 1
  while :; do
    status=$("$AWS" servicecatalog describe-record --region "$region" --id "$record" --output json | jq -r '.RecordDetail.Status')
    case "$status" in
      SUCCEEDED) return 0 ;;
      FAILED | IN_PROGRESS_IN_ERROR) return 1 ;;
    esac
    sleep "$POLL_SECONDS"
  done
}

if [ "$update_product" = true ]; then
  log "phase 4: tenant updates in batches of $BATCH"
  failures=0 updated=0
  for region in "${region_list[@]}"; do
    for product_file in "$products_dir"/*.yml; do
      name=$("$PYTHON" -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "$product_file")
      artifact_id=$("$AWS" ssm get-parameter --region "$region" --name "$ssm_prefix/products/$name/latest-artifact-id" --output json |
        jq -r '.Parameter.Value')
      product_id=$("$AWS" servicecatalog search-products-as-admin --region "$region" --filters "FullTextSearch=$name" --output json |
        jq -r --arg n "$name" '[.ProductViewDetails[].ProductViewSummary | select(.Name == $n)][0].ProductId')
      mapfile -t tenants < <("$AWS" servicecatalog scan-provisioned-products --region "$region" --access-level-filter Key=Account,Value=self \
        --output json | jq -r --arg p "$product_id" '.ProvisionedProducts[] | select(.ProductId == $p) | .Id')
      [ "$TENANT_LIMIT" -gt 0 ] && [ "${#tenants[@]}" -gt "$TENANT_LIMIT" ] && tenants=("${tenants[@]:0:TENANT_LIMIT}")
      log "  $region $name: ${#tenants[@]} tenants -> $artifact_id"
      for ((start = 0; start < ${#tenants[@]}; start += BATCH)); do
        pids=() ids=()
        for tenant in "${tenants[@]:start:BATCH}"; do
          update_tenant "$region" "$product_id" "$artifact_id" "$tenant" & pids+=($!) ids+=("$tenant")
        done
        for index in "${!pids[@]}"; do
          if wait "${pids[$index]}"; then updated=$((updated + 1)); else
            failures=$((failures + 1)); log "  tenant ${ids[$index]} ($region) failed to update"
          fi
        done
      done
    done
  done
  log "phase 4: $updated tenants updated, $failures failed"
fi
log "done"
