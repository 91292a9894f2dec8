#!/usr/bin/env bash
# The whole suite, what `make test` and CI run:
#
#   bash scripts/test.sh                       unit, sanity, lint, integration, molecule (in this order)
#   bash scripts/test.sh unit|sanity|lint|integration|molecule [...]   only those stages
#
# Stops at the first failing stage. Prints a header and the duration of each stage, a summary, and as
# its last line "N passed, N failed" summed over the pytest stages, plus one failure for each failed stage
# that no pytest report counted (what CI reads). Exit status is non-zero when any stage failed.
# A pytest stage that collects no test fails (pytest exit code 5): unit and integration are expected to
# have tests, and an integration test without the `integration` mark fails the stage too.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

all_stages=(unit sanity lint integration molecule)
if [ "$#" -eq 0 ]; then
  stages=("${all_stages[@]}")
else
  stages=("$@")
  for stage in "${stages[@]}"; do
    case " ${all_stages[*]} " in
      *" $stage "*) ;;
      *) echo "test.sh: unknown stage '$stage' (one of: ${all_stages[*]})" >&2; exit 2 ;;
    esac
  done
fi

export PATH="$root/.venv/bin:$root/node_modules/.bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
export PYTHONDONTWRITEBYTECODE=1
results_dir=$root/.cache/test-results
mkdir -p "$results_dir"

passed_total=0
failed_total=0
summary=()

# Prints "passed failed" from a pytest JUnit XML report (errors count as failed, skipped as neither).
count_junit() {
  .venv/bin/python - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - failed - skipped, failed)
EOF
}

run_pytest() {
  local name=$1; shift
  local report=$results_dir/$name.xml status counts failed
  rm -f "$report"
  .venv/bin/pytest -p no:cacheprovider --junitxml="$report" "$@"
  status=$?
  if [ -f "$report" ]; then
    counts=$(count_junit "$report")
    failed=${counts#* }
    passed_total=$((passed_total + ${counts% *}))
    failed_total=$((failed_total + failed))
  fi
  if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no test in the $name stage, which is expected to have tests" >&2
    status=1
  fi
  return "$status"
}

# `-m integration` would silently leave out an integration test that lacks the mark: refuse that instead.
check_integration_marks() {
  local unmarked
  unmarked=$(.venv/bin/pytest -p no:cacheprovider --collect-only -q -m "not integration" tests/integration 2>/dev/null | grep '::')
  if [ -n "$unmarked" ]; then
    printf 'test.sh: these tests in tests/integration lack @pytest.mark.integration and would never run:\n%s\n' "$unmarked" >&2
    return 1
  fi
}

run_stage() {
  case $1 in
    unit) run_pytest unit tests/unit ;;
    sanity) bash scripts/sanity.sh ;;
    lint) .venv/bin/ansible-lint -c .config/ansible-lint.yml ;;
    # Two workers: much of an integration test is waiting (records in progress, Ansible between tasks), so
    # two files side by side nearly halve the stage on 2 cores. --dist loadfile keeps a file's tests, which
    # build on each other in order, on one worker.
    integration) check_integration_marks && run_pytest integration tests/integration -m integration -n 2 --dist loadfile ;;
    molecule) bash scripts/molecule.sh ;;
  esac
}

overall=0
declare -A ran=()
for stage in "${stages[@]}"; do
  ran[$stage]=1
  printf '\n==================== %s ====================\n' "$stage"
  started=$SECONDS
  failed_before=$failed_total
  run_stage "$stage"
  status=$?
  seconds=$((SECONDS - started))
  if [ "$status" -eq 0 ]; then
    verdict=passed
  else
    verdict="FAILED (exit $status)"
    overall=1
    # a failure no pytest report counted (sanity, lint, molecule, no test collected, a crash) counts once,
    # so the closing line never reads "0 failed" for a failed run
    [ "$failed_total" -gt "$failed_before" ] || failed_total=$((failed_total + 1))
  fi
  printf -- '-------------------- %s %s in %ss --------------------\n' "$stage" "$verdict" "$seconds"
  summary+=("$(printf '%-12s %-18s %5ss' "$stage" "$verdict" "$seconds")")
  [ "$status" -eq 0 ] || break
done

printf '\n==================== summary ====================\n'
for line in "${summary[@]}"; do echo "$line"; done
for stage in "${stages[@]}"; do
  [ -n "${ran[$stage]:-}" ] || printf '%-12s %s\n' "$stage" "not run (an earlier stage failed)"
done
echo "${passed_total} passed, ${failed_total} failed"
exit "$overall"
