#!/usr/bin/env bash
# The README's first command: the example project deployed to 3 regions on the local AWS, a catalog
# version created, demo tenants provisioned on it, a change to one service deployed and rolled out to
# every tenant, the report shown, the local AWS stopped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$root/node_modules/.bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_PAGER="" SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
port=${LOCAL_AWS_PORT:-4566}
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
stage=dev
regions=${DEMO_REGIONS:-us-east-1,eu-west-1,ap-southeast-2}
tenants=${DEMO_TENANTS_PER_REGION:-4}
work="$root/build/demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Starting the local AWS on $AWS_ENDPOINT_URL"
if curl -fsS "$AWS_ENDPOINT_URL/_local_aws/calls" >/dev/null 2>&1; then
  echo "demo: something already answers on port $port; stop it or set LOCAL_AWS_PORT" >&2
  exit 1
fi
mkdir -p "$work"
tools/local-aws --port "$port" > "$work/local-aws.log" 2>&1 &
local_aws_pid=$!
trap 'kill "$local_aws_pid" 2>/dev/null; wait "$local_aws_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$AWS_ENDPOINT_URL/_local_aws/calls" >/dev/null 2>&1 && break
  sleep 0.2
done

step "Copying examples/ to $work/project (the demo changes a handler there, never in the repo)"
rm -rf "$work/project"
cp -r examples "$work/project"
project="$work/project"

step "Creating the stage's artifact buckets (playbooks/bootstrap.yml)"
ansible-playbook playbooks/bootstrap.yml -e stage="$stage" -e regions="$regions" -e project_dir="$project"

step "Deploy 1: package every service for every region, publish, create the first product versions"
ansible-playbook playbooks/deploy.yml -e stage="$stage" -e regions="$regions" -e project_dir="$project" \
  -e catalog_create_missing_products=true

step "Provisioning $tenants demo tenants per product and region on that version"
python scripts/demo_tenants.py --project-dir "$project" --stage "$stage" --regions "$regions" --count "$tenants"

step "Changing one handler (orders) and deploying again with the rollout"
printf '\n# demo change %s\n' "$(date -u +%FT%TZ)" >> "$project/services/orders/orders/handlers.py"
ansible-playbook playbooks/deploy.yml -e stage="$stage" -e regions="$regions" -e project_dir="$project" \
  -e update_product=true

step "The report"
latest=$(find "$project/.deploy-runs" -mindepth 1 -maxdepth 1 -type d | sort | tail -1)
cat "$latest/report.md"
echo
echo "Ledger: $latest/ledger.json"
