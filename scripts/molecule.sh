#!/usr/bin/env bash
# The molecule scenarios of extensions/molecule/ (molecule finds them there because the repository root
# is a collection: galaxy.yml). Default (delegated) driver on this machine, no Docker. The package-and-catalog
# scenario is named `default` because molecule looks for that one first (for its shared state) and logs a
# misleading "CRITICAL ... glob failed. Exiting." line in every green run when it is missing.
#
#   bash scripts/molecule.sh                  every scenario: molecule test --all
#   bash scripts/molecule.sh default          one scenario
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$root/node_modules/.bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off

if [ "$#" -eq 0 ]; then
  exec molecule test --all
fi
status=0
for scenario in "$@"; do
  molecule test --scenario-name "$scenario" || status=$?
done
exit "$status"
