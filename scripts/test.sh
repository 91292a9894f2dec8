#!/usr/bin/env bash
# The whole suite, what `make test` and CI run:
#
#   bash scripts/test.sh                       unit, sanity, lint, molecule, release side by side, then integration
#   bash scripts/test.sh unit|sanity|lint|integration|molecule|release [...]   only those stages
#
# release: the collection tarball's file list, the execution environment rendered, the antsibull linters of
# the docs and changelog, the AWX surveys against the playbook's inputs (tests/release).
#
# The stages that do not need both cores to themselves (unit, sanity, lint, molecule: each mostly one
# process) run side by side, each into its own log (.cache/test-results/<stage>.log), printed whole when it
# ends; integration (three pytest-xdist workers on both cores) runs after them, alone. A failed stage stops the
# stages after it. Prints a header and the duration of each stage, a summary, and as its last line
# "N passed, N failed" summed over the pytest stages, plus one failure for each failed stage that no pytest
# report counted (what CI reads). Exit status is non-zero when any stage failed.
# A pytest stage that collects no test fails (pytest exit code 5): unit and integration are expected to
# have tests, and an integration test without the `integration` mark fails the stage too.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

all_stages=(unit sanity lint molecule release integration)
# Stages that share the machine well; the others run one at a time after them.
side_by_side_stages=" unit sanity lint molecule release "
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
  local status
  rm -f "$results_dir/$name.xml"
  .venv/bin/pytest -p no:cacheprovider --junitxml="$results_dir/$name.xml" "$@"
  status=$?
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
    # Three workers on 2 cores: much of an integration test is waiting (records polled, retries backing off,
    # the local AWS answering), which a third worker fills (measured here: 11 min with 3, 16-18 with 2).
    # --dist loadgroup keeps a file's tests, which build on each other in order, on one worker, longest
    # first (tests/integration/conftest.py groups and orders them).
    integration) check_integration_marks && run_pytest integration tests/integration -m integration -n 3 --dist loadgroup --no-loadscope-reorder ;;
    molecule) bash scripts/molecule.sh ;;
    release) run_pytest release tests/release ;;
  esac
}

# Runs one stage in the background into its log; its exit status and seconds go to <log>.status.
start_stage() {
  local stage=$1 log=$results_dir/$1.log
  rm -f "$log" "$log.status"
  (
    started=$SECONDS
    run_stage "$stage" >"$log" 2>&1
    echo "$? $((SECONDS - started))" >"$log.status"
  ) &
}

# Adds a finished stage to the summary and the totals; returns its status.
record_stage() {
  local stage=$1 status=$2 seconds=$3 verdict counts failed_before=$failed_total
  if [ -f "$results_dir/$stage.xml" ] && { [ "$stage" = unit ] || [ "$stage" = integration ] || [ "$stage" = release ]; }; then
    counts=$(count_junit "$results_dir/$stage.xml")
    passed_total=$((passed_total + ${counts% *}))
    failed_total=$((failed_total + ${counts#* }))
  fi
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
  return "$status"
}

overall=0
declare -A ran=()
side_by_side=()
one_at_a_time=()
for stage in "${stages[@]}"; do
  case $side_by_side_stages in
    *" $stage "*) side_by_side+=("$stage") ;;
    *) one_at_a_time+=("$stage") ;;
  esac
done

if [ "${#side_by_side[@]}" -gt 0 ]; then
  printf '\n==================== %s side by side ====================\n' "${side_by_side[*]}"
  printf 'each writes %s/<stage>.log, printed below when it ends\n' "${results_dir#"$root"/}"
  for stage in "${side_by_side[@]}"; do start_stage "$stage"; done
  pending=("${side_by_side[@]}")
  while [ "${#pending[@]}" -gt 0 ]; do
    still=()
    for stage in "${pending[@]}"; do
      log=$results_dir/$stage.log
      if [ -s "$log.status" ]; then
        read -r status seconds <"$log.status"
        ran[$stage]=1
        printf '\n==================== %s ====================\n' "$stage"
        cat "$log"
        record_stage "$stage" "$status" "$seconds"
      else
        still+=("$stage")
      fi
    done
    pending=("${still[@]}")
    [ "${#pending[@]}" -eq 0 ] || sleep 1
  done
  wait
fi

for stage in "${one_at_a_time[@]}"; do
  [ "$overall" -eq 0 ] || break
  ran[$stage]=1
  printf '\n==================== %s ====================\n' "$stage"
  started=$SECONDS
  run_stage "$stage"
  record_stage "$stage" "$?" "$((SECONDS - started))"
done

printf '\n==================== summary ====================\n'
for line in "${summary[@]}"; do echo "$line"; done
for stage in "${stages[@]}"; do
  [ -n "${ran[$stage]:-}" ] || printf '%-12s %s\n' "$stage" "not run (an earlier stage failed)"
done
echo "${passed_total} passed, ${failed_total} failed"
exit "$overall"
